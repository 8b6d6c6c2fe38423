extension Substring {
    /// The substring without leading and trailing characters that satisfy `predicate`.
    ///
    /// Configuration values are trimmed with different character sets (OWS for header values,
    /// any whitespace and `;` for CSP directives), hence a predicate rather than a fixed set.
    package func trimmingEdges(while predicate: (Character) -> Bool) -> Substring {
        guard let first = firstIndex(where: { !predicate($0) }), let last = lastIndex(where: { !predicate($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}

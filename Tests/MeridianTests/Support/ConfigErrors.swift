import MeridianConfig

/// The diagnostics (`test.yaml:LINE:COL: path: message`) a configuration text gets; empty when valid.
func configErrors(_ yaml: String) -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, source: "test.yaml")
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

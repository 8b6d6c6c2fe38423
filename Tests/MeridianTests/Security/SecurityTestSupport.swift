import NIOHTTP1

/// Header blocks as ordered `"Name: value"` lines, so tests can compare exact output.
func lines(_ headers: HTTPHeaders) -> [String] {
    headers.map { "\($0.name): \($0.value)" }
}

func headers(_ pairs: (String, String)...) -> HTTPHeaders {
    HTTPHeaders(pairs)
}

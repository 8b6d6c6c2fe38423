public import MeridianCore

/// What the proxy adds to a request's record: the access log writes each by its name, spans as
/// `meridian.<name>`.
public enum UpstreamAddressAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "upstream_addr"
}

public enum UpstreamStatusAnnotation: RecordAnnotationKey {
    public typealias Value = Int
    public static let name = "upstream_status"
}

/// Milliseconds to get a connection (0 for a pooled one), of the last try.
public enum UpstreamConnectAnnotation: RecordAnnotationKey {
    public typealias Value = Double
    public static let name = "upstream_connect_ms"
}

/// Milliseconds from the request leaving until the response head arrived, of the last try.
public enum UpstreamResponseAnnotation: RecordAnnotationKey {
    public typealias Value = Double
    public static let name = "upstream_response_ms"
}

public enum UpstreamTriesAnnotation: RecordAnnotationKey {
    public typealias Value = Int
    public static let name = "upstream_tries"
}

public enum UpstreamClusterAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "upstream_cluster"
}

/// Why the proxy answered itself (502, 503, 504) or cut the response: `connect_failure`,
/// `timeout`, `invalid_response`, `no_healthy_upstream`, `breaker_open`, `overloaded`.
public enum UpstreamErrorAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "upstream_error"
}

/// The Lua scripts Meridian runs on Redis, one extension per concern (`RedisScripts+RateLimit.swift`,
/// `RedisScripts+Breakers.swift`). Each script touches the keys of one hash tag, so it runs on one slot of a Redis
/// Cluster, and reads Redis's clock (`TIME`), never an instance's.
public enum RedisScripts {}

import AsyncHTTPClient
import Logging
import OrderClosing

/// The HTTP client the gateways send on, with its one owner: made from the settings
/// (`WeChatPayTransport.makeClient`: timeouts, trust, one event loop) with the one transport on it,
/// and shut down once when the daemon or command is done. The shell holds this, so it names no
/// AsyncHTTPClient type.
public final class WeChatPayHTTPClient: Sendable {
    let client: HTTPClient
    /// The transport v2 and v3 share (one failover state; `WeChatPayTransport` says why).
    public let transport: WeChatPayTransport

    public init(settings: GatewaySettings, clock: any OrderClock, logger: Logger) throws {
        client = try WeChatPayTransport.makeClient(settings: settings)
        transport = WeChatPayTransport(client: client, settings: settings, clock: clock, logger: logger)
    }

    /// Closes the pooled connections; calls still in flight fail. Call once, after the last call.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}

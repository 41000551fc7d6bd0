/// What `ClosingLoopMachine` asks `ClosingService` to do while calls may be in flight. Each is
/// carried out as said; a database call's answer (or refusal) goes back to the machine as an event.
enum LoopAction: Equatable {
    /// Top of an iteration: tell the machine whether shutdown was asked for and the merchants now
    /// (`looked(now:shuttingDown:merchants:)`).
    case look
    /// Log, count or publish something (`LoopReport`).
    case report(LoopReport)
    case database(LoopDatabaseCall)
    /// Start one call for each of these claimed orders.
    case start([ClaimedOrder])
    /// Send these setup probes, one call each.
    case probe([MerchantProbe])
    /// The one timer (next due time, poll, circuit change, database retry); a nudge ends it early.
    case armTimer(at: Int64)
    /// The end of the shutdown grace period.
    case armGrace(at: Int64)
    /// The grace period is over: cancel the calls still in flight.
    case cancelCalls(inFlight: Int)
    /// Wait for a call to finish or a timer to fire, with this many calls in flight.
    case wait(inFlight: Int)
    /// Nothing is in flight and the loop is stopping: leave the calls' task group.
    case endCalls
}

/// What the machine asks for after the calls have ended (`ClosingLoopMachine.nextAfterCalls`).
enum LoopFinalAction: Equatable {
    case report(LoopReport)
    case database(LoopDatabaseCall)
    /// Wait until the completer's next try (a database backoff step, or the grace period's end).
    case sleep(until: Int64)
    /// Return; `unrecorded` outcomes and give-backs could not be written (rescued as in doubt).
    case exit(unrecorded: Int)
}

/// One store call of the loop.
enum LoopDatabaseCall: Equatable {
    case readPauses
    case findDueTime(ClaimRequest)
    /// The queued outcomes travel in the claim's transaction.
    case recordAndClaim([OrderWrite], ClaimRequest, now: Int64, leaseUntil: Int64)
    case record([OrderWrite])
    case release([ClaimedOrder])

    /// For the journal: "database error while trying to …".
    var what: String {
        switch self {
        case .readPauses: "read the operators' pauses"
        case .findDueTime: "find due orders"
        case .recordAndClaim: "record outcomes and claim due orders"
        case .record: "record outcomes"
        case .release: "release unstarted claims"
        }
    }
}

/// Something the loop tells the journal, the metrics or `status` (`daemon_state`).
enum LoopReport: Equatable {
    /// A merchant whose key did not load: paused, said once at error level, shown in `status`.
    case unavailable(mchID: String, reason: String)
    /// A merchant whose key works again, or who left the config: its circuit row ends.
    case circuitEnded(mchID: String)
    /// A circuit moved; `publish`: shown in `status` too (a half-open one is only logged).
    case circuit(MerchantGate.Change, publish: Bool)
    /// Operators paused or resumed merchants (`closeorderd pause`).
    case operatorPauses(paused: [String: String], resumed: [String])
    /// Claimed orders waited for a slot until their lease could not cover an attempt: given back.
    case leaseRanShort(orders: Int, limit: Int)
    case concurrencyLimit(Int)
    case outage(OutageLog.Line)
    case stopping(inFlight: Int)
}

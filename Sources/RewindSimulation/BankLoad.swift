import RewindCore

/// The benchmarks' load generator: a bank log of the bank scenario's shapes written straight
/// from a loop — no bus, no outbox, no saga log — so `rewind bench` can make a 10M-event log in
/// seconds. Accounts opened and funded, transfers (debit, commission, credit, completion, an
/// external e-mail), some compensated, duplicate deliveries and clock skew at chosen rates.
/// Deterministic by seed; about 230 bytes per event. `simulate bank` runs the real patterns.
public struct BankLoad: Sendable {
    public var events: Int
    public var seed: UInt64
    public var accounts: Int
    /// Probability that a line is re-delivered (a duplicate id) right after.
    public var duplicateRate: Double
    /// Probability that an event is written with a timestamp a few seconds in the past.
    public var skewRate: Double
    public var start: Timestamp
    /// Transfers recorded on this many streams, reused in turn (nil: one stream per transfer, so
    /// streams grow with the log). With `streams(_:)`, a log of a fixed number of streams.
    public var transferStreams: Int?

    public init(events: Int, seed: UInt64 = 1, accounts: Int? = nil, duplicateRate: Double = 0.001,
                skewRate: Double = 0.0, start: Timestamp = Timestamp(nanoseconds: 1_767_225_600_000_000_000)) {
        self.events = events
        self.seed = seed
        self.accounts = accounts ?? max(4, min(10_000, events / 50))
        self.duplicateRate = duplicateRate
        self.skewRate = skewRate
        self.start = start
    }

    /// A log over exactly `count` streams (at least 16): a quarter accounts, as many customers
    /// to e-mail, the fees account, and the rest transfer streams reused in turn.
    public static func fixedStreams(_ count: Int, events: Int, seed: UInt64 = 1, duplicateRate: Double = 0.001) -> BankLoad {
        let count = max(16, count)
        var s = BankLoad(events: events, seed: seed, accounts: count / 4, duplicateRate: duplicateRate)
        s.transferStreams = count - 2 * (count / 4) - 1
        return s
    }

    /// The rules that fold this log: the bank scenario's (a superset of sample-logs/bank.rules.yaml).
    public static let rulesYAML = BankSimulation.rulesYAML

    /// Calls `emit` with each line (without the newline), in file order.
    public func generate(_ emit: (String) -> Void) {
        var rng = SplitMix64(seed: seed)
        var now = start.nanoseconds
        var written = 0
        var counter = 0
        var balances = [Int64](repeating: 0, count: accounts)
        var opened = 0
        var transfer = 0

        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        func account(_ i: Int) -> String { "account-" + pad(i, 5) }
        func line(_ service: String, _ stream: String, _ type: String, _ data: String, _ meta: String) {
            guard written < events else { return }
            counter += 1
            now += Int64(rng.next() % 5_000_000_000) + 1_000_000  // 0–5 s: a million events span about a month
            var ts = now
            if skewRate > 0, Double(rng.next() % 1_000_000) / 1_000_000 < skewRate {
                ts -= Int64(rng.next() % 5_000_000_000) + 1_000_000_000
            }
            let tsText = Timestamp(nanoseconds: ts - ts % 1_000_000).rfc3339
            let text = #"{"id":"evt-"# + pad(counter, 9) + #"","ts":""# + tsText + #"","service":""# + service
                + #"","stream":""# + stream + #"","type":""# + type + #"","data":"# + data + #","meta":"# + meta + "}"
            emit(text)
            written += 1
            if written < events, duplicateRate > 0, Double(rng.next() % 1_000_000) / 1_000_000 < duplicateRate {
                emit(text)  // redelivered: the same id again
                written += 1
            }
        }

        while written < events {
            if opened < accounts {
                let owner = "customer-" + pad(opened, 5)
                line("accounts", account(opened), "AccountOpened", #"{"owner":""# + owner + #"","currency":"EUR"}"#,
                     #"{"correlationId":"open-"# + pad(opened, 5) + #"","partition":"# + String(opened % 8) + "}")
                opened += 1
                continue
            }
            let from = Int(rng.next() % UInt64(accounts))
            var to = Int(rng.next() % UInt64(accounts))
            if to == from { to = (to + 1) % accounts }
            let amount = Int64(rng.next() % 900) + 10
            let commission = max(1, amount / 20)
            if balances[from] < amount + commission {
                let deposit = Int64(rng.next() % 5000) + 1000
                balances[from] += deposit
                line("accounts", account(from), "MoneyDeposited", #"{"amount":"# + String(deposit) + #","channel":"branch"}"#,
                     #"{"correlationId":"dep-"# + pad(counter, 9) + #"","partition":"# + String(from % 8) + "}")
                continue
            }
            transfer += 1
            let saga = "transfer-" + pad(transfer, 8)
            let transferStream = transferStreams.map { "transfer-" + pad(transfer % $0, 8) } ?? saga
            let meta = #"{"sagaId":""# + saga + #"","partition":"# + String(from % 8)
            func cmd(_ n: Int) -> String { meta + #","commandId":"cmd-"# + pad(transfer, 8) + "-" + String(n) + #""}"# }
            line("transfers", transferStream, "TransferRequested",
                 #"{"from":""# + account(from) + #"","to":""# + account(to) + #"","amount":"# + String(amount) + #","commission":"# + String(commission) + "}", cmd(0))
            line("accounts", account(from), "MoneyDebited", #"{"amount":"# + String(amount) + #","currency":"EUR"}"#, cmd(1))
            balances[from] -= amount
            if rng.next() % 20 == 0 {
                line("transfers", transferStream, "CommissionFailed", #"{"reason":"commission service unavailable"}"#, cmd(2))
                line("accounts", account(from), "MoneyCredited", #"{"amount":"# + String(amount) + #","currency":"EUR","compensation":true}"#, cmd(3))
                balances[from] += amount
                line("transfers", transferStream, "TransferCompensated", "{}", cmd(4))
                line("notifications", "customer-" + pad(from, 5), "EmailSent",
                     #"{"to":"customer-"# + pad(from, 5) + #"@example.com","subject":"transfer failed"}"#,
                     meta + #","effect":"external"}"#)
                continue
            }
            line("accounts", account(from), "MoneyDebited", #"{"amount":"# + String(commission) + #","currency":"EUR","reason":"commission"}"#, cmd(2))
            balances[from] -= commission
            line("accounts", "account-fees", "MoneyCredited", #"{"amount":"# + String(commission) + #","currency":"EUR"}"#, cmd(3))
            line("accounts", account(to), "MoneyCredited", #"{"amount":"# + String(amount) + #","currency":"EUR"}"#, cmd(4))
            balances[to] += amount
            line("transfers", transferStream, "TransferCompleted", "{}", cmd(5))
            line("notifications", "customer-" + pad(from, 5), "EmailSent",
                 #"{"to":"customer-"# + pad(from, 5) + #"@example.com","subject":"transfer completed"}"#,
                 meta + #","effect":"external"}"#)
        }
    }
}

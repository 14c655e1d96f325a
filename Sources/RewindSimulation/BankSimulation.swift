import RewindCore

/// The transfer saga of the field note, run for real: an orchestrator (`transfers`) with a
/// durable saga log sends commands over the bus to the `accounts` service — debit the sender,
/// deduct the commission (the commission service is sometimes unavailable: retried with
/// backoff, then compensated in reverse order), credit the recipient — and asks `notifications`
/// for an e-mail (an external, irreversible effect). Every command carries `sagaId` and
/// `commandId` and is idempotent; every service writes state and outbox in one transaction; a
/// read model (`balance-view`) projects the accounts' events, its lag (`lagMs`) in every event.
///
/// Commands and replies are never dead-lettered in practice (1 000 receives): a saga's messages
/// must not be dropped, however often a service crashes.
///
/// `Faults.saga == false` runs the same transfers without a saga: the transfers service checks
/// its lagging read model and writes to the accounts directly, so a crash between debit and
/// credit loses money and a stale balance approves an overdraft. `Faults.outbox == false` makes
/// the services dual-write.
final class BankSimulation {
    let world: World
    let bus: Bus
    let size: Int

    struct Accounts {
        var balances: [String: Int64] = [:]
        /// commandId → the reply sent for it (a redelivered command gets the same reply).
        var replies: [String: (type: String, body: [JSONKey: JSONValue])] = [:]
    }
    struct Saga {
        var from: String, to: String, amount: Int64, commission: Int64
        var retries = 0
        var open = true
    }
    struct Orchestrator {
        var sagas: [String: Saga] = [:]
        var handled: Set<String> = []
    }
    struct Notifier { var sent: Set<String> = [] }
    struct View { var balances: [String: Int64] = [:]; var seen: Set<String> = [] }

    let accounts: ServiceDatabase<Accounts>
    let transfers: ServiceDatabase<Orchestrator>
    let notifications: ServiceDatabase<Notifier>
    let view: ServiceDatabase<View>
    var accountNames: [String] = []
    var total: Int64 = 0
    var transferCounter = 0

    init(world: World, size: Int) {
        self.world = world
        self.size = max(1, size)
        bus = Bus(world: world)
        accounts = ServiceDatabase(world: world, bus: bus, service: "accounts", state: Accounts())
        transfers = ServiceDatabase(world: world, bus: bus, service: "transfers", state: Orchestrator())
        notifications = ServiceDatabase(world: world, bus: bus, service: "notifications", state: Notifier())
        view = ServiceDatabase(world: world, bus: bus, service: "balance-view", state: View())
    }

    static let rulesYAML = """
        services:
          accounts:
            AccountOpened:
              ops:
                - set: /owner
                  value: $.data.owner
                - set: /balance
                  value: 0
            MoneyDeposited:
              ops:
                - inc: /balance
                  by: $.data.amount
            MoneyDebited:
              ops:
                - inc: /balance
                  by: -$.data.amount
            MoneyCredited:
              ops:
                - inc: /balance
                  by: $.data.amount
          transfers:
            TransferRequested:
              ops:
                - merge: $.data
                - set: /status
                  value: requested
                - set: /open
                  value: true
            CommissionFailed:
              ops:
                - set: /status
                  value: failed
                - set: /reason
                  value: $.data.reason
            TransferCompleted:
              ops:
                - set: /status
                  value: completed
                - set: /open
                  value: false
            TransferCompensated:
              ops:
                - set: /status
                  value: compensated
                - set: /open
                  value: false
            TransferRejected:
              ops:
                - set: /status
                  value: rejected
                - set: /reason
                  value: $.data.reason
                - set: /open
                  value: false
          balance-view:
            BalanceProjected:
              ops:
                - set: /balance
                  value: $.data.balance
                - set: /lagMs
                  value: $.data.lagMs
          notifications:
            EmailSent:
              irreversible: true
              ops:
                - append: /sent
                  value: $.data.to

        """

    func invariants() -> String {
        """
        # No account is ever overdrawn: each debit checks the balance it is applied to.
        all(accounts/*/balance >= 0)
        # Money is conserved: once everything has settled, all that was deposited (\(total)) is in the accounts.
        simulation/run/settled != true || sum(accounts/*/balance) == \(total)
        # No transfer is left half-applied: every saga completed, was compensated or was rejected.
        simulation/run/settled != true || all(transfers/*/open == false)

        """
    }

    func run() -> ScenarioLog {
        let count = max(4, min(500, size / 40))
        accountNames = (0..<count).map { "account-" + World.pad($0 + 1, 5) } + ["account-fees"]
        // Accounts are opened and funded first (reliably: the bank's own migration).
        for (i, name) in accountNames.enumerated() {
            let deposit: Int64 = name == "account-fees" ? 0 : Int64(world.int(500...3_000))
            total += deposit
            world.emit(service: "accounts", stream: name, type: "AccountOpened",
                       data: ["owner": .string(name == "account-fees" ? "Bank fees" : "customer-" + World.pad(i + 1, 5)), "currency": .string("EUR")],
                       at: world.now)
            if deposit > 0 {
                world.emit(service: "accounts", stream: name, type: "MoneyDeposited",
                           data: ["amount": .int(deposit), "channel": .string("branch")], at: world.now)
            }
            accounts.update { $0.balances[name] = deposit }
            view.update { $0.balances[name] = deposit }
        }
        subscribe()
        // Transfers begin once the accounts are open, later than any skewed clock can reach back.
        world.after(5_000_000_000) { [self] in scheduleClient() }
        world.run()
        world.settle(["deposited": .int(total), "transfers": .int(Int64(transferCounter))])
        return ScenarioLog(lines: world.lines, rules: Self.rulesYAML, invariants: invariants())
    }

    // MARK: the client

    func scheduleClient() {
        world.after(world.millis(5...120)) { [self] in
            guard world.lineCount < size else { return }
            transferCounter += 1
            let id = "transfer-" + World.pad(transferCounter, 6)
            let payer = accountNames[world.int(0...(accountNames.count - 2))]
            var payee = accountNames[world.int(0...(accountNames.count - 2))]
            if payee == payer { payee = accountNames[(accountNames.firstIndex(of: payer)! + 1) % (accountNames.count - 1)] }
            let amount = Int64(world.int(10...600))
            if world.faults.saga { request(id, payer, payee, amount) } else { directTransfer(id, payer, payee, amount) }
            scheduleClient()
        }
    }

    func sagaMeta(_ saga: String, _ command: String) -> [JSONKey: JSONValue] {
        ["sagaId": .string(saga), "commandId": .string(command)]
    }

    func command(_ saga: String, _ step: String, _ account: String, _ amount: Int64, _ commandId: String) -> [JSONKey: JSONValue] {
        ["sagaId": .string(saga), "commandId": .string(commandId), "step": .string(step), "account": .string(account), "amount": .int(amount)]
    }

    // MARK: the saga

    /// The orchestrator starts a saga: the request and the first command, in one transaction.
    func request(_ id: String, _ from: String, _ to: String, _ amount: Int64) {
        let commission = max(1, amount / 20)
        let ok = transfers.transaction(cause: nil) { st, tx in
            st.sagas[id] = Saga(from: from, to: to, amount: amount, commission: commission)
            tx.event(id, "TransferRequested", ["from": .string(from), "to": .string(to), "amount": .int(amount), "commission": .int(commission)],
                     meta: sagaMeta(id, id + "-request"))
            tx.send("accounts.commands", key: from, type: "Debit", command(id, "debit", from, amount, id + "-debit"))
        }
        // A crash before the commit: the client tries again a little later.
        if !ok { world.after(world.millis(200...800)) { [self] in request(id, from, to, amount) } }
    }

    func subscribe() {
        let accountsGroup = bus.subscribe("accounts.commands", group: "accounts", consumers: ["accounts-1"], visibilityTimeout: 1_000_000_000, maxReceives: 1_000) { [self] d in
            handleAccountCommand(d)
        }
        let transfersGroup = bus.subscribe("transfers.replies", group: "transfers", consumers: ["transfers-1"], visibilityTimeout: 1_000_000_000, maxReceives: 1_000) { [self] d in
            handleReply(d)
        }
        let notificationsGroup = bus.subscribe("notifications.requests", group: "notifications", consumers: ["notifications-1"], maxReceives: 1_000) { [self] d in
            handleEmail(d)
        }
        let viewGroup = bus.subscribe("accounts.events", group: "balance-view", consumers: ["balance-view-1"], maxReceives: 1_000) { [self] d in
            handleProjection(d)
        }
        groups = ["accounts-1": accountsGroup, "transfers-1": transfersGroup, "notifications-1": notificationsGroup, "balance-view-1": viewGroup]
    }
    var groups: [String: Bus.Group] = [:]

    /// Ends a delivery: acked when its transaction committed, otherwise the consumer restarts
    /// after a while and the message comes back after its visibility timeout.
    func finish(_ d: Bus.Delivery, committed: Bool) {
        if committed { d.ack(); return }
        d.crashed()
        if let g = groups[d.consumerName] { bus.down(g, consumer: d.consumerName, for: world.millis(100...1_500)) }
    }

    /// A service that is down for a while: the message waits for it.
    func isDown(_ d: Bus.Delivery) -> Bool {
        guard world.chance(world.faults.down) else { return false }
        d.crashed()
        if let g = groups[d.consumerName] { bus.down(g, consumer: d.consumerName, for: world.millis(1_000...5_000)) }
        return true
    }

    func handleAccountCommand(_ d: Bus.Delivery) {
        if isDown(d) { return }
        let m = d.message
        let saga = m.string("sagaId"), commandId = m.string("commandId"), account = m.string("account"), amount = m.int("amount")
        let unavailable = m.type == "ChargeCommission" && world.chance(0.06)
        let committed = accounts.transaction(cause: m) { st, tx in
            if let reply = st.replies[commandId] {
                tx.send("transfers.replies", key: saga, type: reply.type, reply.body)  // the same reply again
                return
            }
            var body: [JSONKey: JSONValue] = ["sagaId": .string(saga), "commandId": .string(commandId), "step": .string(m.string("step"))]
            let type: String
            let meta = sagaMeta(saga, commandId)
            let balance = st.balances[account] ?? 0
            switch m.type {
            case "Debit":
                if balance < amount {
                    type = "DebitRejected"
                } else {
                    st.balances[account] = balance - amount
                    tx.event(account, "MoneyDebited", ["amount": .int(amount), "currency": .string("EUR")], meta: meta)
                    tx.send("accounts.events", key: account, type: "BalanceChanged", ["committedAt": .int(world.now), "account": .string(account), "balance": .int(balance - amount)])
                    type = "Debited"
                }
            case "ChargeCommission":
                if unavailable {
                    type = "CommissionUnavailable"
                } else if balance < amount {
                    type = "CommissionRejected"
                } else {
                    st.balances[account] = balance - amount
                    let fees = (st.balances["account-fees"] ?? 0) + amount
                    st.balances["account-fees"] = fees
                    tx.event(account, "MoneyDebited", ["amount": .int(amount), "currency": .string("EUR"), "reason": .string("commission")], meta: meta)
                    tx.send("accounts.events", key: account, type: "BalanceChanged", ["committedAt": .int(world.now), "account": .string(account), "balance": .int(balance - amount)])
                    tx.event("account-fees", "MoneyCredited", ["amount": .int(amount), "currency": .string("EUR")], meta: meta)
                    tx.send("accounts.events", key: "account-fees", type: "BalanceChanged", ["committedAt": .int(world.now), "account": .string("account-fees"), "balance": .int(fees)])
                    type = "CommissionCharged"
                }
            default:  // Credit
                st.balances[account] = balance + amount
                var data: [JSONKey: JSONValue] = ["amount": .int(amount), "currency": .string("EUR")]
                if m.string("step") == "compensate" { data["compensation"] = .bool(true) }
                tx.event(account, "MoneyCredited", data, meta: meta)
                tx.send("accounts.events", key: account, type: "BalanceChanged", ["committedAt": .int(world.now), "account": .string(account), "balance": .int(balance + amount)])
                type = "Credited"
            }
            body["result"] = .string(type)
            st.replies[commandId] = (type, body)
            tx.send("transfers.replies", key: saga, type: type, body)
        }
        finish(d, committed: committed)
    }

    func handleReply(_ d: Bus.Delivery) {
        if isDown(d) { return }
        let m = d.message
        let id = m.string("sagaId"), commandId = m.string("commandId")
        var retryAfter: Int64?
        let committed = transfers.transaction(cause: m) { st, tx in
            // A reply seen before (a redelivery, a duplicate, a relay's second publish) changes nothing.
            guard !st.handled.contains(commandId), var saga = st.sagas[id], saga.open else { return }
            st.handled.insert(commandId)
            func compensate(_ reason: String) {
                tx.event(id, "CommissionFailed", ["reason": .string(reason), "retries": .int(Int64(saga.retries))], meta: sagaMeta(id, commandId))
                tx.send("accounts.commands", key: saga.from, type: "Credit", command(id, "compensate", saga.from, saga.amount, id + "-compensate"))
            }
            switch m.type {
            case "Debited":
                tx.send("accounts.commands", key: saga.from, type: "ChargeCommission", command(id, "commission", saga.from, saga.commission, id + "-commission-1"))
            case "DebitRejected":
                saga.open = false
                tx.event(id, "TransferRejected", ["reason": .string("insufficient funds")], meta: sagaMeta(id, commandId))
            case "CommissionCharged":
                tx.send("accounts.commands", key: saga.to, type: "Credit", command(id, "credit", saga.to, saga.amount, id + "-credit"))
            case "CommissionUnavailable":
                saga.retries += 1
                if saga.retries <= 3 {
                    retryAfter = Int64(100 << saga.retries) * 1_000_000  // backoff: 200, 400, 800 ms
                } else {
                    compensate("commission service unavailable")
                }
            case "CommissionRejected":
                compensate("insufficient funds for the commission")
            case "Credited":
                saga.open = false
                let completed = m.string("step") == "credit"
                tx.event(id, completed ? "TransferCompleted" : "TransferCompensated", [:], meta: sagaMeta(id, commandId))
                let customer = "customer-" + saga.from.dropFirst("account-".count)
                tx.send("notifications.requests", key: customer, type: "SendEmail",
                        ["sagaId": .string(id), "customer": .string(customer), "to": .string(customer + "@example.com"),
                         "subject": .string(completed ? "transfer completed" : "transfer failed")])
            default:
                break
            }
            st.sagas[id] = saga
        }
        if committed, let retryAfter {
            world.after(retryAfter) { [self] in retryCommission(id) }
        }
        finish(d, committed: committed)
    }

    func retryCommission(_ id: String) {
        let ok = transfers.transaction(cause: nil) { st, tx in
            guard let saga = st.sagas[id], saga.open else { return }
            tx.send("accounts.commands", key: saga.from, type: "ChargeCommission",
                    command(id, "commission", saga.from, saga.commission, id + "-commission-\(saga.retries + 1)"))
        }
        if !ok { world.after(world.millis(200...800)) { [self] in retryCommission(id) } }
    }

    func handleEmail(_ d: Bus.Delivery) {
        if isDown(d) { return }
        let m = d.message
        let key = m.string("sagaId") + "/" + m.string("subject")
        let committed = notifications.transaction(cause: m) { st, tx in
            guard !st.sent.contains(key) else { return }  // sent once, however often it is asked
            st.sent.insert(key)
            tx.event(m.string("customer"), "EmailSent", ["to": m["to"] ?? .null, "subject": m["subject"] ?? .null],
                     meta: ["sagaId": m["sagaId"] ?? .null, "commandId": .string(m.string("sagaId") + "-email"), "effect": .string("external")])
        }
        finish(d, committed: committed)
    }

    /// The read model: each account's balance as the accounts' events report it, behind the
    /// write side by the bus's delay (its lag is in every projected event).
    func handleProjection(_ d: Bus.Delivery) {
        let m = d.message
        let committed = view.transaction(cause: m) { st, tx in
            guard !st.seen.contains(m.id) else { return }
            st.seen.insert(m.id)
            let account = m.string("account")
            st.balances[account] = m.int("balance")
            // The read model's lag behind the write side, in the log (CQRS).
            tx.event(account, "BalanceProjected", ["balance": .int(m.int("balance")), "lagMs": .int((world.now - m.int("committedAt")) / 1_000_000)])
        }
        finish(d, committed: committed)
    }

    // MARK: without a saga

    /// The inconsistent variant: the transfers service approves on its read model and writes to
    /// the accounts directly, step after step over the network, with nothing to resume from.
    func directTransfer(_ id: String, _ from: String, _ to: String, _ amount: Int64) {
        let commission = max(1, amount / 20)
        guard (view.state.balances[from] ?? 0) >= amount + commission else {
            world.emit(service: "transfers", stream: id, type: "TransferRejected", data: ["reason": .string("insufficient funds (read model)")],
                       meta: sagaMeta(id, id + "-request"))
            return
        }
        world.emit(service: "transfers", stream: id, type: "TransferRequested",
                   data: ["from": .string(from), "to": .string(to), "amount": .int(amount), "commission": .int(commission)],
                   meta: sagaMeta(id, id + "-request"))
        func move(_ account: String, _ delta: Int64, _ command: String, _ then: @escaping () -> Void) {
            world.after(world.networkDelay() + world.millis(5...40)) { [self] in
                // A crash of the transfers service between two steps: nothing resumes the transfer.
                if world.chance(world.faults.crash * 5) { return }
                var balance: Int64 = 0
                accounts.update { st in balance = (st.balances[account] ?? 0) + delta; st.balances[account] = balance }
                world.emit(service: "accounts", stream: account, type: delta < 0 ? "MoneyDebited" : "MoneyCredited",
                           data: ["amount": .int(abs(delta)), "currency": .string("EUR")], meta: sagaMeta(id, command))
                bus.publish("accounts.events", key: account, type: "BalanceChanged", body: ["committedAt": .int(world.now), "account": .string(account), "balance": .int(balance)],
                            causationId: command, correlationId: id)
                then()
            }
        }
        move(from, -amount, id + "-debit") { [self] in
            move(from, -commission, id + "-commission") { [self] in
                move("account-fees", commission, id + "-fees") { [self] in
                    move(to, amount, id + "-credit") { [self] in
                        world.emit(service: "transfers", stream: id, type: "TransferCompleted", data: [:], meta: sagaMeta(id, id + "-complete"))
                    }
                }
            }
        }
    }
}

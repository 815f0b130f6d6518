import Testing
@testable import Store

@Suite struct PoolStateMachineTests {
    typealias Machine = PoolStateMachine<Int, String>

    @Test func leasesUpToCapacityThenQueues() {
        var machine = Machine(capacity: 2)
        guard case .lease(nil) = machine.acquire(id: 1, waiter: "a") else { Issue.record("expected a new lease"); return }
        guard case .lease(nil) = machine.acquire(id: 2, waiter: "b") else { Issue.record("expected a new lease"); return }
        guard case .wait = machine.acquire(id: 3, waiter: "c") else { Issue.record("expected wait"); return }
        guard case .wait = machine.acquire(id: 4, waiter: "d") else { Issue.record("expected wait"); return }
        #expect(machine.leased == 2)
        // Releases go to waiters in order, with the connection.
        guard case .resume("c", 10) = machine.release(10) else { Issue.record("expected c to get 10"); return }
        // A discarded connection hands over an empty lease: the waiter opens a new one.
        guard case .resume("d", nil) = machine.release(nil) else { Issue.record("expected d to get a new lease"); return }
        #expect(machine.leased == 2)
        guard case .none = machine.release(11) else { Issue.record("expected idle"); return }
        #expect(machine.leased == 1)
        #expect(machine.idle == [11])
        guard case .lease(11) = machine.acquire(id: 5, waiter: "e") else { Issue.record("expected the idle connection"); return }
        #expect(machine.idle.isEmpty)
    }

    @Test func idlePlusLeasedNeverExceedCapacity() {
        var machine = Machine(capacity: 3)
        var held: [Int?] = []
        var next = 0
        var waiting: [UInt64: String] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<2000 {
            if Bool.random(using: &generator) || held.isEmpty {
                switch machine.acquire(id: UInt64(step), waiter: "w\(step)") {
                case .lease(let connection): held.append(connection ?? { next += 1; return next }())
                case .wait: waiting[UInt64(step)] = "w\(step)"
                case .failShutdown: Issue.record("not shut down")
                }
            } else {
                let connection = held.removeLast()
                let keep = Bool.random(using: &generator) ? connection : nil
                switch machine.release(keep) {
                case .resume(_, let handed): held.append(handed ?? { next += 1; return next }())
                case .none, .close: break
                }
            }
            #expect(machine.leased + machine.idle.count <= 3)
            #expect(held.count == machine.leased)
        }
    }

    @Test func removedWaiterIsNotResumedAndShutdownFailsTheRest() {
        var machine = Machine(capacity: 1)
        _ = machine.acquire(id: 1, waiter: "a")
        _ = machine.acquire(id: 2, waiter: "b")
        _ = machine.acquire(id: 3, waiter: "c")
        #expect(machine.removeWaiter(id: 2) == "b")
        #expect(machine.removeWaiter(id: 2) == nil)
        let (waiters, idle) = machine.shutdown()
        #expect(waiters == ["c"])
        #expect(idle.isEmpty)
        guard case .close(7) = machine.release(7) else { Issue.record("expected close after shutdown"); return }
        guard case .failShutdown = machine.acquire(id: 4, waiter: "d") else { Issue.record("expected failure"); return }
    }
}

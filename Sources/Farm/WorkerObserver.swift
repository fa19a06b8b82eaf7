/// What a running `Worker` tells the outside world: metrics, health endpoints and the service manager
/// (`FarmService`'s Prometheus collector and systemd notifier) implement this. Calls come from the worker's own
/// thread, except `stopRequested`, which comes from whoever called `Worker.requestStop()` (a signal handler);
/// implementations must be cheap and never block. Every method has an empty default.
public protocol WorkerObserver: AnyObject, Sendable {
    /// Connected to PostgreSQL, registered, and the served models are loaded: ready for jobs.
    func workerReady(name: String)
    /// The worker loop is alive without a job (an idle wait, a claim that found nothing).
    func workerIdle()
    /// A job was claimed; `queueWait` is seconds from when it became due to this claim (nil: unknown).
    func jobStarted(_ job: ClaimedJob, queueWait: Double?)
    /// The render of `job` finished step `step` of `total`.
    func jobProgress(_ job: ClaimedJob, step: Int, total: Int)
    /// This attempt at `job` ended after `seconds`.
    func jobFinished(_ job: ClaimedJob, outcome: AttemptOutcome, seconds: Double)
    /// A job was given back untouched because this host cannot render it (`WorkerFault`).
    func jobGivenBack(_ job: ClaimedJob, reason: String)
    /// A heartbeat learned this worker no longer holds the lease of `job`.
    func leaseLost(_ job: ClaimedJob)
    /// `requestStop()` was called for the `count`th time; `busy` tells whether a job is being rendered.
    func stopRequested(count: Int, busy: Bool)
    /// The worker loop ended.
    func workerStopped()
}

extension WorkerObserver {
    public func workerReady(name: String) {}
    public func workerIdle() {}
    public func jobStarted(_ job: ClaimedJob, queueWait: Double?) {}
    public func jobProgress(_ job: ClaimedJob, step: Int, total: Int) {}
    public func jobFinished(_ job: ClaimedJob, outcome: AttemptOutcome, seconds: Double) {}
    public func jobGivenBack(_ job: ClaimedJob, reason: String) {}
    public func leaseLost(_ job: ClaimedJob) {}
    public func stopRequested(count: Int, busy: Bool) {}
    public func workerStopped() {}
}

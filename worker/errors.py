"""The worker's exceptions, each with its meaning (and so its queue outcome) attached.

    WorkerError                      root; carries job_id and account (either may be "")
    ├── AccountProblem               the app shows an account screen: fail the job, block the account
    ├── VideoUnavailable             the video is missing or unreadable: permanent
    ├── JobError                     worth another attempt (consumes one, with backoff)
    │   ├── ElementNotFound          a flow step's element never appeared
    │   └── PostFailed               the app said the post failed (nothing was published)
    ├── PublishNotConfirmed          the publish tap happened but success was never seen: review
    └── InfrastructureError          phone/ADB/Appium/GeeLark trouble: requeue without an attempt
        ├── PhoneUnavailable         the phone did not start, run or stay running
        ├── AdbError                 ADB never connected, device offline, glogin failed
        ├── AppiumServerError        our Appium server would not start or died
        ├── SessionLost              the Appium session died under us
        └── JobTimeout               the job overran its per-job deadline

StopRequested is not an error: it unwinds a job at a safe point so the claim can be released.
ForcedStop (a second signal) unwinds at once, wherever the job is. GiveBack (the claim goes back
without an attempt, e.g. a GeeLark task cancelled before it started) and ClaimingRefused (GeeLark
refused new work for the whole account: the run stops claiming) are not errors either.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Root of the worker's errors; `error_type` is the short machine code stored in the queue."""

    error_type = "worker_error"

    def __init__(self, message: str, *, job_id: str = "", account: str = "", error_type: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.job_id = job_id
        self.account = account
        if error_type:
            self.error_type = error_type


class AccountProblem(WorkerError):
    """The app shows an account problem (suspended, banned, captcha...): a person must look."""

    error_type = "account_problem"


class VideoUnavailable(WorkerError):
    """The job's video is missing or unreadable: it can never succeed as is."""

    error_type = "video_unavailable"


class CaptionTooLong(VideoUnavailable):
    """The caption is longer than the account's app accepts: the job can never succeed as is."""

    error_type = "caption_too_long"


class JobError(WorkerError):
    """A job-level failure worth another attempt."""

    error_type = "job_error"


class ElementNotFound(JobError):
    """A flow step waited for an element that never appeared."""

    error_type = "element_missing"


class PostFailed(JobError):
    """The app showed that the post failed: nothing was published."""

    error_type = "post_failed"


class PublishNotConfirmed(WorkerError):
    """The publish tap happened but success was not seen in time: it may or may not be posted."""

    error_type = "publish_unconfirmed"


class InfrastructureError(WorkerError):
    """The phone, ADB, Appium or GeeLark failed, not the job."""

    error_type = "infrastructure"


class PhoneUnavailable(InfrastructureError):
    error_type = "phone_error"


class AdbError(InfrastructureError):
    error_type = "adb_timeout"


class AppiumServerError(InfrastructureError):
    error_type = "appium_crash"


class SessionLost(InfrastructureError):
    error_type = "session_lost"


class JobTimeout(InfrastructureError):
    error_type = "job_timeout"


class StopRequested(Exception):
    """A stop was requested; raised at a safe point to abandon the job and release its claim."""


class GiveBack(Exception):
    """The claim goes back to the queue without an attempt; `reason` is the job's error text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClaimingRefused(GiveBack):
    """GeeLark refused new work for the whole account (balance 29997, task credits 41000): the job
    goes back and the run stops claiming."""


class ForcedStop(BaseException):
    """A second stop signal: abandon the job wherever it is (the claim is released, the phone and
    the server are still stopped). A BaseException so that no job-level handler swallows it."""


class FlowFileError(ValueError):
    """A flow file is invalid; names the file, the place in it and the reason."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        self.path = path
        self.where = where
        self.reason = reason
        super().__init__(f"{path}: {where}: {reason}")

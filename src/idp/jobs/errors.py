"""What the job queue raises: a payload a handler cannot use, a policy that cannot work."""

from __future__ import annotations

from idp.errors import IdpError


class JobPayloadError(IdpError):
    """The job's payload cannot be used (damaged, not JSON, a field missing). Retrying does not
    help: the job is failed alone with this reason, its batch goes on."""

    expose = False


class MissingKey(JobPayloadError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the payload has no {key!r}")
        self.key = key


class ConfigurationError(IdpError):
    """A setting that cannot work, found when the app starts rather than at the first job."""

    status_code = 500
    expose = False

"""The exceptions TalentReel raises, one flat list. Each names what is wrong in its message."""


class TalentReelError(Exception):
    """Base of every TalentReel error."""


class ConfigError(TalentReelError):
    """A setting has a bad value, or a required one is missing."""


class PluginError(TalentReelError):
    """A plugin named in the configuration cannot be loaded, or a plugin misbehaves."""


class DatabaseUnavailable(TalentReelError):
    """The configured database cannot be reached."""


class QueueUnavailable(TalentReelError):
    """The configured Redis cannot be reached."""


class InstanceLocked(TalentReelError):
    """Another `talentreel up` already runs on this data directory."""


class InstanceNotRunning(TalentReelError):
    """A command needs the embedded Redis of `talentreel up`, which is not running."""


class ValidationError(TalentReelError):
    """Input from a user or client is not acceptable; the message says which field and why."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class NotFound(TalentReelError):
    """The object does not exist, or the caller may not know that it does."""


class PermissionDenied(TalentReelError):
    """The permission hook refused the action."""

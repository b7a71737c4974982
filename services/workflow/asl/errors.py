"""States.* error names and the rules by which Retry and Catch match them."""


class StatesError(Exception):
    def __init__(self, error, cause=""):
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


ERROR_NAMES = (
    "States.ALL", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold", "States.HeartbeatTimeout",
    "States.Http.Socket", "States.IntrinsicFailure", "States.ItemReaderFailed", "States.NoChoiceMatched",
    "States.ParameterPathFailure", "States.Permissions", "States.ResultPathMatchFailure", "States.ResultWriterFailed",
    "States.Runtime", "States.TaskFailed", "States.Timeout", "States.BranchFailed", "States.QueryEvaluationError",
)
# never retried nor caught (AWS: "A retry or catch on States.ALL won't catch States.Runtime errors")
UNCATCHABLE = {"States.Runtime"}
# not matched by the States.ALL wildcard (only by their own name)
NOT_IN_ALL = {"States.Runtime", "States.DataLimitExceeded"}


def matches(error_equals, error):
    """Does a retrier's or catcher's ErrorEquals list match error?"""
    if error in UNCATCHABLE:
        return False
    for name in error_equals:
        if name == error:
            return True
        if name == "States.ALL" and error not in NOT_IN_ALL:
            return True
        # States.TaskFailed: a wildcard for any error but States.Timeout
        if name == "States.TaskFailed" and error not in NOT_IN_ALL and error != "States.Timeout":
            return True
    return False

"""API resources: they build requests and structure responses, and know no transport."""

from qoder_async.resources.deployments import DeploymentsAPI
from qoder_async.resources.runs import DeploymentRunsAPI, RunsAPI

__all__ = ["DeploymentRunsAPI", "DeploymentsAPI", "RunsAPI"]

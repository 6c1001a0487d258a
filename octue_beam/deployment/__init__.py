"""Deploying a service to Google Cloud: default Dockerfiles, the Dataflow Flex Template spec and launch, the Cloud Run
service and its push subscription, and the build that redeploys on every push to main (docs/deployment.md).

Every Google API is called through its official client library; the clients are made by the caller (the `deploy`
command builds them for Google, tests point them at a local stand-in for the API), never held in this package.
"""

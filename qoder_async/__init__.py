"""Async client for the Qoder Cloud Agents Deployments API."""

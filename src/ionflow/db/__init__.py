"""Embedded MongoDB wire-protocol server, and the JobStore / LaunchPad every stage uses."""

"""The workflow service (Amazon States Language) as WF.* commands; see services/workflow/commands.py."""

"""The camera guidebook's mechanisms: purpose policy, notice, assessment and audit log."""

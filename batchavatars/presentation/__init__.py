"""What people and downstream tools read, kept apart from the core: the logs (`logs`), the live
progress display (`progress`), the summary and `status` tables (`summary`), the HTML report
(`report`, `report_assets`, `report_previews`) and the ledger's exports (`export`)."""

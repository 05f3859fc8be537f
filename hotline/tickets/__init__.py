"""工单 from calls: classification, field extraction, SLA clock, lifecycle, 回访."""

"""Applications for disclosure (依申请公开): intake, the statutory clock, replies, fees, appeals, consultations."""

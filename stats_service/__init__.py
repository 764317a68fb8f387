"""Annual reports (政府信息公开工作年度报告) and dashboards, built from the other services' event feeds."""

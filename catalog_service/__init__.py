"""Disclosure catalogue (政府信息公开目录): organs, documents, review, publication, search, change feed."""

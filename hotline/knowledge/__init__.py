"""What agents answer with: the knowledge base (知识库 / 口径) and the notices in force
(停气 / 停水 / 施工 通知)."""

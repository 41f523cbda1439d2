updated_at < {f0:DateTime64(6, 'UTC')}
f0 = "2024-10-01 06:30:00.123456"

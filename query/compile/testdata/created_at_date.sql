created_at >= {f0:DateTime64(6, 'UTC')}
f0 = "2024-10-01 00:00:00.000000"

created_at IN ({f0:DateTime64(6, 'UTC')})
f0 = "2024-01-01 00:00:00.000000"

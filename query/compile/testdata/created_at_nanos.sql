(created_at >= {f0:DateTime64(6, 'UTC')} OR 0 OR created_at <= {f1:DateTime64(6, 'UTC')})
f0 = "2024-10-01 08:30:00.123457"
f1 = "2024-10-01 08:30:00.123456"

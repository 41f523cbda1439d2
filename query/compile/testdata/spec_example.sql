(doc_type IN ({f0:String}, {f1:String}) AND organization_id = {f2:Int64} AND created_at >= {f3:DateTime64(6, 'UTC')})
f0 = "sick_leave"
f1 = "referral"
f2 = "77"
f3 = "2024-10-01 00:00:00.000000"

NOT (status IN ({f0:String}, {f1:String}))
f0 = "cancelled"
f1 = "draft"

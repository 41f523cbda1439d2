(doc_type = {f0:String} AND status = {f1:String} AND organization_id = {f2:Int64})
f0 = "referral"
f1 = "signed"
f2 = "77"

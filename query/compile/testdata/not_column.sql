NOT (doc_type = {f0:String})
f0 = "referral"

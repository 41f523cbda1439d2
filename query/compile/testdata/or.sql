(doc_type = {f0:String} OR doc_type = {f1:String})
f0 = "referral"
f1 = "sick_leave"

(doc_type >= {f0:String} AND status < {f1:String})
f0 = "b"
f1 = "z"

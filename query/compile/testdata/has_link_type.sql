has(link_types, {f0:String})
f0 = "result_of"

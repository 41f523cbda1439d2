((ifNull(attributes.`panels`.:String = {f0:String}, 0) OR arrayExists(e -> ifNull(e = {f0:String}, 0), attributes.`panels`.:`Array(Nullable(String))`)) AND NOT has(link_types, {f1:String}))
f0 = "CMP"
f1 = "result_of"

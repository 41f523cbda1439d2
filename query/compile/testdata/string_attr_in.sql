(ifNull(attributes.`allergy`.:String IN ({f0:String}, {f1:String}), 0) OR arrayExists(e -> ifNull(e IN ({f0:String}, {f1:String}), 0), attributes.`allergy`.:`Array(Nullable(String))`))
f0 = "penicillin"
f1 = "latex"

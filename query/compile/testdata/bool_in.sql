(ifNull(attributes.`flags`.:Bool IN ({f0:Bool}, {f1:Bool}), 0) OR arrayExists(e -> ifNull(e IN ({f0:Bool}, {f1:Bool}), 0), attributes.`flags`.:`Array(Nullable(Bool))`))
f0 = "true"
f1 = "false"

(ifNull((attributes.`value`.:Float64 + 0) IN ({f0:Float64}, {f1:Float64}), 0) OR arrayExists(e -> ifNull((e + 0) IN ({f0:Float64}, {f1:Float64}), 0), attributes.`value`.:`Array(Nullable(Float64))`) OR arrayExists(e -> ifNull((dynamicElement(e, 'Float64') + 0) IN ({f0:Float64}, {f1:Float64}), 0), attributes.`value`.:`Array(Dynamic)`))
f0 = "2.5"
f1 = "0.1"

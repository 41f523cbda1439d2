(ifNull(attributes.`value`.:Int64 IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}) OR attributes.`value`.:UInt64 IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}) OR (attributes.`value`.:Float64 + 0) IN ({f0:Int64}, {f1:Float64}, {f3:Float64}, {f5:Float64}), 0) OR arrayExists(e -> ifNull(e IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}), 0), attributes.`value`.:`Array(Nullable(Int64))`) OR arrayExists(e -> ifNull(e IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}), 0), attributes.`value`.:`Array(Nullable(UInt64))`) OR arrayExists(e -> ifNull((e + 0) IN ({f0:Int64}, {f1:Float64}, {f3:Float64}, {f5:Float64}), 0), attributes.`value`.:`Array(Nullable(Float64))`) OR arrayExists(e -> ifNull(dynamicElement(e, 'Int64') IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}) OR dynamicElement(e, 'UInt64') IN ({f0:Int64}, {f2:Int64}, {f4:UInt64}) OR (dynamicElement(e, 'Float64') + 0) IN ({f0:Int64}, {f1:Float64}, {f3:Float64}, {f5:Float64}), 0), attributes.`value`.:`Array(Dynamic)`))
f0 = "1"
f1 = "2.5"
f2 = "3"
f3 = "3.0"
f4 = "9223372036854775808"
f5 = "9223372036854775808"

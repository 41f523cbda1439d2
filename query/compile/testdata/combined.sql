(((isNotNull(attributes.`allergy`) AND NOT (startsWith(dynamicType(attributes.`allergy`), 'Array(') AND toString(attributes.`allergy`) = '[]')) OR (ifNull(attributes.`smoker`.:Bool = {f0:Bool}, 0) OR arrayExists(e -> ifNull(e = {f0:Bool}, 0), attributes.`smoker`.:`Array(Nullable(Bool))`))) AND NOT (ifNull(attributes.`bp`.:Int64 >= {f1:Int64} OR attributes.`bp`.:UInt64 >= {f1:Int64} OR attributes.`bp`.:Float64 >= {f1:Int64}, 0) AND ifNull(attributes.`bp`.:Int64 <= {f2:Int64} OR attributes.`bp`.:UInt64 <= {f2:Int64} OR attributes.`bp`.:Float64 < {f3:Float64}, 0)) AND (notEmpty(link_types) OR has(link_targets, {f4:UUID})) AND NOT (NOT (status = {f5:String})))
f0 = "true"
f1 = "140"
f2 = "180"
f3 = "180.5"
f4 = "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d"
f5 = "signed"

(isNotNull(attributes.`allergy`) AND NOT (startsWith(dynamicType(attributes.`allergy`), 'Array(') AND toString(attributes.`allergy`) = '[]'))

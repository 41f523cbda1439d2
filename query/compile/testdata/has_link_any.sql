notEmpty(link_types)

"""ACL sync: pull users, groups and roles from IAM, refresh sources' ACLs, rewrite chunk payloads in place."""

module mqop.invalid/pause

go 1.22

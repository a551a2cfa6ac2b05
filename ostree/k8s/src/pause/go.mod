module fcos.local/pause

go 1.22

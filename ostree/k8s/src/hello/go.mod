module fcos.local/hello

go 1.22

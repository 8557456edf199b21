package hostfile

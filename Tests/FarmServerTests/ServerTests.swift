import FarmServer

from tsdyn.cli import main

main()

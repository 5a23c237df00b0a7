import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * The campus-sync test server for Neo4j: the Community server from neo4j-harness (Maven Central),
 * Bolt on 127.0.0.1:PORT, authentication on as in production (user neo4j, the given password),
 * data under DIR. Prints "READY" when it answers; stops when its standard input closes (the
 * parent died) or on SIGTERM; with a fourth argument "detached", only on SIGTERM.
 *
 *   java -cp "classes:lib/*" Neo4jServer PORT DIR PASSWORD [detached]
 */
public class Neo4jServer {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Path dir = Path.of(args[1]);
    String password = args[2];
    Neo4j neo4j =
        Neo4jBuilders.newInProcessBuilder(dir)
            .withDisabledServer()
            .withConfig(BoltConnector.enabled, true)
            .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
            .withConfig(HttpConnector.enabled, false)
            .withConfig(HttpsConnector.enabled, false)
            .withConfig(GraphDatabaseSettings.auth_enabled, true)
            .build();
    // Embedded access bypasses authentication: set the password the clients will use. A restart
    // on the same data finds it set already, and Neo4j refuses to "change" it to itself.
    try {
      neo4j
          .databaseManagementService()
          .database("system")
          .executeTransactionally(
              "ALTER USER neo4j SET PASSWORD '" + password.replace("'", "\\'") + "' CHANGE NOT REQUIRED");
    } catch (RuntimeException e) {
      if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));
    System.out.println("READY");
    System.out.flush();
    if (args.length > 3 && args[3].equals("detached")) Thread.currentThread().join();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    while (in.readLine() != null) {
      // keep running until stdin closes
    }
    System.exit(0);
  }
}
